"""Silhouette relabelling of the jaw on hand-made segmentation masks."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from heatmark.data.records import LandmarkRecord, Records
from heatmark.data.relabel import BACKGROUND, HAIR, NECK, SKIN, relabel_records, silhouette_jaw
from heatmark.data.schemes import get_scheme
from heatmark.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "facesynthetics_100"
CX, CY, A, B = 100.0, 100.0, 60.0, 80.0  # the face: an ellipse of skin


def face_mask(size: int = 220) -> np.ndarray:
    seg = np.full((size, size), BACKGROUND, np.uint8)
    cv2.ellipse(seg, ((CX, CY), (2 * A, 2 * B), 0), SKIN, -1)
    return seg


def landmarks(inset: float = 0.8) -> np.ndarray:
    """An iBUG-68 layout: jaw on an ellipse ``inset`` × the face's, inner points where a face has them."""
    pts = np.zeros((70, 2))
    theta = np.linspace(np.pi, 0, 17)  # 0 on the image's left, 8 at the chin, 16 on the right
    pts[:17] = np.stack([CX + inset * A * np.cos(theta), CY + inset * B * np.sin(theta)], 1)
    pts[17:27] = np.stack([np.linspace(CX - 40, CX + 40, 10), np.full(10, CY - 40)], 1)  # brows
    pts[27:36] = np.stack([np.full(9, CX), np.linspace(CY - 25, CY + 10, 9)], 1)  # nose
    pts[36:42] = [CX - 35, CY - 24] + np.random.default_rng(0).uniform(-4, 4, (6, 2))
    pts[42:48] = [CX + 35, CY - 24] + np.random.default_rng(1).uniform(-4, 4, (6, 2))
    pts[36], pts[45] = [CX - 45, CY - 24], [CX + 45, CY - 24]  # outer eye corners
    pts[48:68] = [CX, CY + 35] + np.random.default_rng(2).uniform(-15, 15, (20, 2))
    pts[68:] = [[CX - 35, CY - 24], [CX + 35, CY - 24]]
    return pts.astype(np.float32)


def outline_distance(p: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
    """Pixels from each point to the edge of the skin region (inside or outside)."""
    region = ((face_mask() if seg is None else seg) == SKIN).astype(np.uint8)
    d = np.maximum(cv2.distanceTransform(region, cv2.DIST_L2, 5), cv2.distanceTransform(1 - region, cv2.DIST_L2, 5))
    return d[p[:, 1].astype(int), p[:, 0].astype(int)]


def test_jaw_moves_onto_the_outline_and_inner_points_stay():
    pts = landmarks(0.8)
    new, moved = silhouette_jaw(pts, face_mask())
    assert moved.all()
    # on the outline: the normalised radius is 1 within 1.5 px of the ellipse's smaller radius
    assert outline_distance(new[:17]).max() <= 1.5
    np.testing.assert_array_equal(new[17:], pts[17:])  # only the jaw is relabelled


def test_jaw_points_are_evenly_spaced_along_each_half():
    pts = landmarks(0.8)
    pts[1:8] = pts[1:8] * 0.7 + pts[0] * 0.3  # bunch the left half: respacing must undo it
    new, _ = silhouette_jaw(pts, face_mask())
    for half in (new[:9], new[8:17]):
        gaps = np.linalg.norm(np.diff(half, axis=0), axis=1)
        assert gaps.std() / gaps.mean() < 0.08
    assert new[8, 1] > CY + B - 2  # the chin stays at the bottom of the face


def test_points_outside_the_face_move_inwards():
    new, moved = silhouette_jaw(landmarks(1.1), face_mask())
    assert moved.all()
    assert outline_distance(new[:17]).max() <= 1.5


def test_an_outline_occluded_by_hair_keeps_the_label():
    seg = face_mask()
    right = (np.arange(seg.shape[1])[None, :] > CX + 20) & (seg == BACKGROUND)
    seg[right] = HAIR  # hair beyond the right cheek: that outline is hair's, not the jaw's
    seg[int(CY + B) - 5:, :] = np.where(seg[int(CY + B) - 5:, :] == SKIN, SKIN, NECK)
    pts = landmarks(0.8)
    new, moved = silhouette_jaw(pts, seg)
    right_pts = pts[:17, 0] > CX + 30
    assert not moved[right_pts].any() and moved[~right_pts].any()
    np.testing.assert_array_equal(new[:17][right_pts], pts[:17][right_pts])


def _record(tmp_path: Path, seg: bool = True) -> LandmarkRecord:
    img = tmp_path / "000000.png"
    cv2.imwrite(str(img), np.zeros((220, 220, 3), np.uint8))
    seg_path = None
    if seg:
        seg_path = tmp_path / "000000_seg.png"
        cv2.imwrite(str(seg_path), face_mask())
    return LandmarkRecord(image_path=img, landmarks=landmarks(0.8), scheme=get_scheme("facesynthetics70"),
                          seg_path=seg_path)


def test_relabel_records(tmp_path):
    recs = Records([_record(tmp_path)])
    out = relabel_records(recs, "silhouette")
    assert outline_distance(out[0].landmarks[:17]).max() <= 1.5
    assert relabel_records(recs, None) is recs
    np.testing.assert_array_equal(recs[0].landmarks, landmarks(0.8))  # the input records are not changed


def test_relabel_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(DataError, match="000000.png.*segmentation mask.*_seg.png"):
        relabel_records(Records([_record(tmp_path, seg=False)]), "silhouette")
    with pytest.raises(ConfigError, match="unknown value 'outline'.*silhouette"):
        relabel_records(Records([_record(tmp_path)]), "outline")


@pytest.mark.shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data/facesynthetics_100")
def test_real_facesynthetics_jaws_reach_the_outline():
    from heatmark.data.image_io import read_mask
    from heatmark.data.readers import load_dataset
    from heatmark.data.relabel import face_region

    recs = load_dataset("facesynthetics", SHARED)[:20]
    inside_before, inside_after = [], []
    for r in recs:
        seg = read_mask(r.seg_path)
        region = face_region(seg)
        dist = cv2.distanceTransform(region, cv2.DIST_L2, 5)  # depth inside the face region, px
        new, moved = silhouette_jaw(r.landmarks, seg)
        for pts, acc in ((r.landmarks, inside_before), (new, inside_after)):
            ix = np.clip(pts[:17, 0].astype(int), 0, 511)
            iy = np.clip(pts[:17, 1].astype(int), 0, 511)
            acc.append(dist[iy, ix][moved])
    before, after = np.concatenate(inside_before), np.concatenate(inside_after)
    assert len(after) > 0.6 * 17 * len(recs)  # most jaw points find their outline
    assert np.median(before) > 5 and np.median(after) <= 1.5  # from inside the cheek onto the edge
