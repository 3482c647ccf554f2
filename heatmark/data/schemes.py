"""Landmark schemes as data: point names, groups, left/right flip pairs and normalisation points.

A scheme is plain data. The built-in ones are iBUG-68, FaceSynthetics-70 (68 + 2 pupils),
WFLW-98 and COFW-29; a user's own scheme (any number of points) is a small YAML file::

    name: nose5
    num_points: 5
    names: [nose_tip, left_nostril, right_nostril, left_eye, right_eye]   # optional
    flip_pairs: [[1, 2], [3, 4]]                                            # optional
    norm: [[3], [4]]          # optional: two groups of points whose centres define the
                              # normalising distance (e.g. the two eyes)

"Left" and "right" in point names are the *subject's*: the subject's right eye appears on the
image's left. Flip pairs swap them when an image is mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heatmark.errors import ConfigError


@dataclass(frozen=True)
class Scheme:
    """A landmark scheme as data: point names, mirror pairs, groups and the distance that normalises errors.

    Built in: ``ibug68`` (300W), ``facesynthetics70`` (68 + 2 pupils), ``wflw98``, ``cofw29``, ``face5``
    (:func:`get_scheme` also takes ``"68"``, ``"300w"``, ``"5"``, ...); a custom one from a dict or YAML file
    (:meth:`from_dict`). Fields: ``name``, ``num_points`` (K), ``names`` (K), ``flip_pairs`` (indices that swap
    under a horizontal flip), ``groups`` (named index groups; per-region errors come from them), ``norm`` (two
    index groups whose centroids' distance normalises NME: outer eye corners for ``ibug68``, eye centres for
    ``face5``; None: sqrt of the landmark box area), ``extra_norms`` (named alternatives such as
    ``inter_pupil``), ``box_expand`` (sparse schemes: (ratio, dx, dy) from the landmark box to the face box).

    Raises:
        ConfigError: inconsistent data (names against ``num_points``, indices out of range, a point in two pairs).

    Examples:
        >>> from heatmark.data.schemes import get_scheme
        >>> s = get_scheme("68")
        >>> s.norm_distance(points)          # (..., 68, 2) → (...,) outer-eye-corner distances
    """

    name: str
    num_points: int
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    groups: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Two groups of point indices; the distance between their centroids normalises errors.
    norm: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    # Other named normalisations (e.g. "inter_pupil"), same form as ``norm``.
    extra_norms: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    # For sparse schemes: the face box is the landmark box scaled by ``ratio`` and moved by (dx, dy) × its
    # side, so that a crop around 5 points frames the face as a crop around 68 points does. None: as is.
    box_expand: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        k = self.num_points
        if k < 1:
            raise ConfigError(f"scheme {self.name!r}: num_points must be >= 1, got {k}")
        if len(self.names) != k:
            raise ConfigError(f"scheme {self.name!r}: {len(self.names)} names for {k} points")
        seen: set[int] = set()
        for a, b in self.flip_pairs:
            for i in (a, b):
                if not 0 <= i < k:
                    raise ConfigError(f"scheme {self.name!r}: flip pair index {i} outside 0..{k - 1}")
                if i in seen:
                    raise ConfigError(f"scheme {self.name!r}: point {i} appears in two flip pairs")
                seen.add(i)
        for label, norm in [("norm", self.norm), *self.extra_norms.items()]:
            if norm is None:
                continue
            if len(norm) != 2 or not all(len(g) for g in norm):
                raise ConfigError(f"scheme {self.name!r}: {label} must be two non-empty index groups")
            for i in (*norm[0], *norm[1]):
                if not 0 <= i < k:
                    raise ConfigError(f"scheme {self.name!r}: {label} index {i} outside 0..{k - 1}")

    @property
    def flip_index(self) -> np.ndarray:
        """Permutation p such that ``flipped_points = mirror(points)[p]``."""
        perm = np.arange(self.num_points)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    @property
    def regions(self) -> dict[str, tuple[int, ...]]:
        """Face regions for per-region errors (jaw, brows, nose, eyes, mouth), from the group names: a group
        goes to the first region whose keyword its name contains. Regions with no points are left out."""
        keys = (("jaw", ("jaw", "contour", "chin")), ("brows", ("brow",)), ("nose", ("nose", "nostril")),
                ("eyes", ("eye", "pupil")), ("mouth", ("mouth", "lip")))
        out: dict[str, list[int]] = {}
        for group, idx in self.groups.items():
            region = next((r for r, words in keys if any(w in group.lower() for w in words)), None)
            if region:
                out.setdefault(region, []).extend(idx)
        return {r: tuple(sorted(set(out[r]))) for r, _ in keys if r in out}

    def norm_distance(self, points: np.ndarray, kind: str | None = None) -> np.ndarray:
        """Normalising distance for points of shape (..., K, 2); ``kind`` picks an extra norm.

        A scheme without ``norm`` (a custom one) is normalised by sqrt(width × height) of the landmark
        bounding box; a one-point scheme by 1, so its "NME" is the error in pixels.

        Args:
            points: (..., K, 2) landmarks (usually the annotations).
            kind: None or ``"default"`` (the scheme's ``norm``), or a key of ``extra_norms``.

        Returns:
            (...,) distances in the points' pixels.

        Raises:
            ConfigError: a ``kind`` the scheme does not have (the message lists the valid ones).
        """
        if (kind is None or kind == "default") and self.norm is None:
            pts = np.asarray(points, dtype=np.float64)
            if self.num_points == 1:
                return np.ones(pts.shape[:-2])
            wh = pts.max(-2) - pts.min(-2)
            return np.sqrt(np.maximum(wh[..., 0] * wh[..., 1], 1e-12))
        norm = self.norm if kind is None or kind == "default" else self.extra_norms.get(kind)
        if norm is None:
            valid = ["default", *self.extra_norms]
            raise ConfigError(f"scheme {self.name!r} has no normalisation {kind!r}; valid: {valid}")
        pts = np.asarray(points, dtype=np.float64)
        a = pts[..., list(norm[0]), :].mean(-2)
        b = pts[..., list(norm[1]), :].mean(-2)
        return np.linalg.norm(a - b, axis=-1)

    def to_dict(self) -> dict:
        """The scheme as a JSON-ready dict (in every weights file and ONNX export); :meth:`from_dict` reads it."""
        return {
            "name": self.name,
            "num_points": self.num_points,
            "names": list(self.names),
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "groups": {k: list(v) for k, v in self.groups.items()},
            "norm": None if self.norm is None else [list(g) for g in self.norm],
            "extra_norms": {k: [list(g) for g in v] for k, v in self.extra_norms.items()},
            **({"box_expand": list(self.box_expand)} if self.box_expand else {}),
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>") -> Scheme:
        """A scheme from a dict ``d`` (:meth:`to_dict`'s form, or a user's YAML file; ``source`` named in errors).

        Raises:
            ConfigError: unknown keys, or values of the wrong kind (naming ``source``).

        Examples:
            >>> Scheme.from_dict({"name": "tips", "num_points": 2, "flip_pairs": [[0, 1]]})
        """
        allowed = {"name", "num_points", "names", "flip_pairs", "groups", "norm", "extra_norms", "box_expand"}
        unknown = set(d) - allowed
        if unknown:
            raise ConfigError(f"{source}: unknown scheme keys {sorted(unknown)}; valid keys: {sorted(allowed)}")
        if "num_points" not in d and "names" not in d:
            raise ConfigError(f"{source}: a scheme needs 'num_points' (and optionally 'names')")
        try:
            k = int(d.get("num_points", len(d.get("names") or [])))
            names = tuple(str(n) for n in (d.get("names") or [f"p{i}" for i in range(k)]))
            norm = d.get("norm")
            return cls(
                name=str(d.get("name", Path(source).stem)),
                num_points=k,
                names=names,
                flip_pairs=tuple((int(a), int(b)) for a, b in d.get("flip_pairs") or []),
                groups={str(g): tuple(int(i) for i in idx) for g, idx in (d.get("groups") or {}).items()},
                norm=None if norm is None else _norm_pair(norm),
                extra_norms={str(n): _norm_pair(v) for n, v in (d.get("extra_norms") or {}).items()},
                box_expand=tuple(float(v) for v in d["box_expand"]) if d.get("box_expand") else None,
            )
        except (TypeError, ValueError) as e:
            if isinstance(e, ConfigError):
                raise ConfigError(f"{source}: {e}") from None
            raise ConfigError(f"{source}: malformed scheme ({e})") from None


def _norm_pair(v) -> tuple[tuple[int, ...], tuple[int, ...]]:
    a, b = v
    as_group = lambda g: tuple(int(i) for i in (g if isinstance(g, (list, tuple)) else [g]))  # noqa: E731
    return as_group(a), as_group(b)


def _range(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b))


# ---------------------------------------------------------------- iBUG 68 (300W)
_IBUG68_GROUPS = {
    "jaw": _range(0, 17),
    "right_eyebrow": _range(17, 22),
    "left_eyebrow": _range(22, 27),
    "nose_bridge": _range(27, 31),
    "nose_lower": _range(31, 36),
    "right_eye": _range(36, 42),
    "left_eye": _range(42, 48),
    "mouth_outer": _range(48, 60),
    "mouth_inner": _range(60, 68),
}
_IBUG68_FLIP = (
    *[(i, 16 - i) for i in range(8)],                       # jaw
    *[(17 + i, 26 - i) for i in range(5)],                  # eyebrows
    (31, 35), (32, 34),                                     # nostrils
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),  # eyes
    (48, 54), (49, 53), (50, 52), (59, 55), (58, 56),       # outer lips
    (60, 64), (61, 63), (67, 65),                           # inner lips
)


def _group_names(groups: dict[str, tuple[int, ...]], k: int) -> tuple[str, ...]:
    names = [f"p{i}" for i in range(k)]
    for g, idx in groups.items():
        for j, i in enumerate(idx):
            names[i] = f"{g}_{j}"
    return tuple(names)


IBUG68 = Scheme(
    name="ibug68",
    num_points=68,
    names=_group_names(_IBUG68_GROUPS, 68),
    flip_pairs=_IBUG68_FLIP,
    groups=_IBUG68_GROUPS,
    norm=((36,), (45,)),  # outer eye corners: the 300W inter-ocular normalisation
    extra_norms={"inter_pupil": (_range(36, 42), _range(42, 48))},
)

# ---------------------------------------------------------------- FaceSynthetics 70
_FS70_GROUPS = {**_IBUG68_GROUPS, "right_pupil": (68,), "left_pupil": (69,)}
FACESYNTHETICS70 = Scheme(
    name="facesynthetics70",
    num_points=70,
    names=(*IBUG68.names, "right_pupil", "left_pupil"),
    flip_pairs=(*_IBUG68_FLIP, (68, 69)),
    groups=_FS70_GROUPS,
    norm=((36,), (45,)),
    extra_norms={"inter_pupil": ((68,), (69,))},
)

# ---------------------------------------------------------------- WFLW 98
_WFLW_GROUPS = {
    "contour": _range(0, 33),
    "right_eyebrow": _range(33, 42),
    "left_eyebrow": _range(42, 51),
    "nose": _range(51, 60),
    "right_eye": _range(60, 68),
    "left_eye": _range(68, 76),
    "mouth_outer": _range(76, 88),
    "mouth_inner": _range(88, 96),
    "right_pupil": (96,),
    "left_pupil": (97,),
}
_WFLW_FLIP = (
    *[(i, 32 - i) for i in range(16)],
    (33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47),
    (60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75), (66, 74), (67, 73),
    (55, 59), (56, 58),
    (76, 82), (77, 81), (78, 80), (87, 83), (86, 84),
    (88, 92), (89, 91), (95, 93),
    (96, 97),
)
WFLW98 = Scheme(
    name="wflw98",
    num_points=98,
    names=_group_names(_WFLW_GROUPS, 98),
    flip_pairs=_WFLW_FLIP,
    groups=_WFLW_GROUPS,
    norm=((60,), (72,)),
    extra_norms={"inter_pupil": ((96,), (97,))},
)

# ---------------------------------------------------------------- COFW 29
_COFW_NAMES = (
    "right_eyebrow_outer", "left_eyebrow_outer", "right_eyebrow_inner", "left_eyebrow_inner",
    "right_eyebrow_top", "right_eyebrow_bottom", "left_eyebrow_top", "left_eyebrow_bottom",
    "right_eye_outer", "left_eye_outer", "right_eye_inner", "left_eye_inner",
    "right_eye_top", "right_eye_bottom", "left_eye_top", "left_eye_bottom",
    "right_pupil", "left_pupil", "right_nostril", "left_nostril", "nose_tip", "nose_bottom",
    "mouth_right", "mouth_left", "upper_lip_top", "upper_lip_bottom", "lower_lip_top",
    "lower_lip_bottom", "chin",
)
COFW29 = Scheme(
    name="cofw29",
    num_points=29,
    names=_COFW_NAMES,
    flip_pairs=((0, 1), (2, 3), (4, 6), (5, 7), (8, 9), (10, 11), (12, 14), (13, 15),
                (16, 17), (18, 19), (22, 23)),
    groups={"eyebrows": _range(0, 8), "eyes": _range(8, 16), "pupils": (16, 17),
            "nose": _range(18, 22), "mouth": _range(22, 28), "chin": (28,)},
    norm=((16,), (17,)),  # COFW is conventionally normalised by the inter-pupil distance
    extra_norms={"inter_ocular": ((8,), (9,))},
)

# ---------------------------------------------------------------- 5 points (CUHK / MTFL)
FACE5 = Scheme(
    name="face5",
    num_points=5,
    names=("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner"),  # the subject's sides
    flip_pairs=((0, 1), (3, 4)),
    groups={"right_eye": (0,), "left_eye": (1,), "nose": (2,), "mouth": (3, 4)},
    norm=((0,), (1,)),  # eye centres
    # 68-point box side / 5-point box side and the centre shift, medians over 300w_helen_train's 870 faces
    # (python tools/measure_box_expand.py): a crop around 5 points frames the whole face
    box_expand=(2.026, -0.006, 0.134),
)

BUILTIN: dict[str, Scheme] = {s.name: s for s in (IBUG68, FACESYNTHETICS70, WFLW98, COFW29, FACE5)}
ALIASES = {"68": "ibug68", "300w": "ibug68", "70": "facesynthetics70", "facesynthetics": "facesynthetics70",
           "98": "wflw98", "wflw": "wflw98", "29": "cofw29", "cofw": "cofw29", "5": "face5", "cuhk": "face5",
           "mtfl": "face5"}

# Index subsets that turn one scheme into another (target[i] = source[CONVERSIONS[...][i]]).
WFLW98_TO_68 = (
    *range(0, 33, 2),                                   # 17 contour points
    33, 34, 35, 36, 37, 42, 43, 44, 45, 46,             # upper eyebrow contours
    *range(51, 60),                                     # nose
    60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75,     # eyes (6 of 8 each)
    *range(76, 96),                                     # mouth
)
IBUG68_TO_5 = (tuple(range(36, 42)), tuple(range(42, 48)), 30, 48, 54)  # eye centres = mean of 6 eye points
# target point i = source point CONVERSIONS[...][i], or the mean of a tuple of source points
CONVERSIONS: dict[tuple[str, str], tuple[int | tuple[int, ...], ...]] = {
    ("facesynthetics70", "ibug68"): tuple(range(68)),
    ("wflw98", "ibug68"): WFLW98_TO_68,
    ("ibug68", "face5"): IBUG68_TO_5,
    ("facesynthetics70", "face5"): IBUG68_TO_5,
    ("wflw98", "face5"): (tuple(range(60, 68)), tuple(range(68, 76)), 54, 76, 82),
}


def _conversion_matrix(idx, k_src: int) -> np.ndarray:
    """(K_dst, K_src) averaging matrix of a conversion."""
    m = np.zeros((len(idx), k_src))
    for i, src in enumerate(idx):
        group = src if isinstance(src, tuple) else (src,)
        m[i, list(group)] = 1.0 / len(group)
    return m


def get_scheme(scheme: str | Path | Scheme) -> Scheme:
    """A built-in scheme by name/alias, or a custom one from a YAML file."""
    if isinstance(scheme, Scheme):
        return scheme
    key = str(scheme)
    key = ALIASES.get(key.lower(), key.lower())
    if key in BUILTIN:
        return BUILTIN[key]
    path = Path(str(scheme))
    if path.suffix.lower() in {".yaml", ".yml"}:
        return load_scheme(path)
    raise ConfigError(
        f"unknown landmark scheme {str(scheme)!r}; built-in: {sorted(BUILTIN)} "
        f"(aliases {sorted(ALIASES)}), or give a path to a scheme .yaml file"
    )


def load_scheme(path: str | Path) -> Scheme:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: scheme file not found")
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: a scheme file must be a YAML mapping with at least num_points")
    return Scheme.from_dict(d, source=str(path))


def convert_points(points: np.ndarray, src: str | Scheme, dst: str | Scheme) -> np.ndarray:
    """Convert points (..., K_src, C) from one scheme to another by index subset."""
    s, d = get_scheme(src), get_scheme(dst)
    if s.name == d.name:
        return points
    idx = CONVERSIONS.get((s.name, d.name))
    if idx is None:
        known = [f"{a}->{b}" for a, b in CONVERSIONS]
        raise ConfigError(f"no conversion from scheme {s.name!r} to {d.name!r}; known: {known}")
    if points.shape[-2] != s.num_points:
        raise ValueError(f"expected {s.num_points} points for {s.name}, got {points.shape[-2]}")
    if all(isinstance(i, int) for i in idx):
        return points[..., list(idx), :]
    m = _conversion_matrix(idx, s.num_points)
    if np.asarray(points).dtype == bool:  # a mean point is visible when all its source points are
        return ~((m > 0).astype(np.int64) @ (~np.asarray(points)).astype(np.int64)).astype(bool)
    return np.einsum("ij,...jc->...ic", m, points)


def can_convert(src: str | Scheme, dst: str | Scheme) -> bool:
    s, d = get_scheme(src), get_scheme(dst)
    return s.name == d.name or (s.name, d.name) in CONVERSIONS
