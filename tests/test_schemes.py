import numpy as np
import pytest

from heatmark.data.schemes import (
    BUILTIN,
    COFW29,
    FACESYNTHETICS70,
    IBUG68,
    WFLW98,
    convert_points,
    get_scheme,
    load_scheme,
)
from heatmark.errors import ConfigError


@pytest.mark.parametrize("scheme", list(BUILTIN.values()), ids=lambda s: s.name)
def test_flip_index_is_an_involution(scheme):
    p = scheme.flip_index
    assert sorted(p) == list(range(scheme.num_points))
    assert (p[p] == np.arange(scheme.num_points)).all()


def test_builtin_norm_points():
    assert IBUG68.norm == ((36,), (45,))
    assert WFLW98.norm == ((60,), (72,))
    assert COFW29.norm == ((16,), (17,))  # pupils
    assert FACESYNTHETICS70.extra_norms["inter_pupil"] == ((68,), (69,))


def test_aliases():
    assert get_scheme("68") is IBUG68 and get_scheme("300w") is IBUG68 and get_scheme("WFLW") is WFLW98
    with pytest.raises(ConfigError, match="unknown landmark scheme"):
        get_scheme("ibug69")


def test_convert_70_to_68_and_98_to_68():
    p70 = np.random.default_rng(0).random((2, 70, 2))
    assert np.array_equal(convert_points(p70, "facesynthetics70", "ibug68"), p70[:, :68])
    p98 = np.arange(98 * 2, dtype=float).reshape(98, 2)
    p68 = convert_points(p98, "wflw98", "ibug68")
    assert p68.shape == (68, 2)
    # outer eye corners map to outer eye corners, jaw ends to jaw ends, nose tip region kept
    assert np.array_equal(p68[36], p98[60]) and np.array_equal(p68[45], p98[72])
    assert np.array_equal(p68[0], p98[0]) and np.array_equal(p68[16], p98[32])
    assert np.array_equal(p68[48:68], p98[76:96])
    with pytest.raises(ConfigError, match="no conversion"):
        convert_points(p68, "ibug68", "cofw29")


def test_flip_pairs_are_left_right_mirrors_in_data(fixtures):
    """On real-looking data, each flip pair's first point lies left of its partner on the image."""
    from heatmark.data.readers import load_dataset

    for name, root in [("300w", "300w"), ("facesynthetics", "facesynthetics")]:
        for r in load_dataset(name, fixtures / root):
            s = r.scheme
            if name == "300w" and r.name == "1051618982_1":
                continue  # a strong profile: the far jaw folds over
            eyes = [(a, b) for a, b in s.flip_pairs if a in range(36, 48)]
            assert all(r.landmarks[a, 0] < r.landmarks[b, 0] for a, b in eyes), r.name


def test_custom_yaml_scheme(tmp_path):
    f = tmp_path / "nose5.yaml"
    f.write_text("name: nose5\nnum_points: 5\nflip_pairs: [[1, 2], [3, 4]]\nnorm: [[3], [4]]\n")
    s = get_scheme(f)
    assert s.num_points == 5 and s.names[0] == "p0" and list(s.flip_index) == [0, 2, 1, 4, 3]
    pts = np.array([[0, 0], [1, 1], [2, 2], [0, 10.0], [4, 10.0]])
    assert s.norm_distance(pts) == pytest.approx(4.0)
    one = tmp_path / "tip.yaml"
    one.write_text("num_points: 1\nnames: [nose_tip]\n")
    assert load_scheme(one).num_points == 1


@pytest.mark.parametrize("text,match", [
    ("num_points: 3\nflip_pairs: [[0, 5]]\n", "outside"),
    ("num_points: 3\ncolour: red\n", "unknown scheme keys"),
    ("- 1\n- 2\n", "YAML mapping"),
    ("num_points: 2\nnames: [a]\n", "names"),
])
def test_bad_yaml_scheme(tmp_path, text, match):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        get_scheme(f)


def test_custom_scheme_without_norm_uses_box_size():
    from heatmark.data.schemes import Scheme

    s = Scheme("tri", 3, ("a", "b", "c"))
    pts = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 9.0]])
    assert s.norm_distance(pts) == pytest.approx(6.0)  # sqrt(4 x 9)
    assert Scheme("tip", 1, ("tip",)).norm_distance(pts[:1]) == 1.0
