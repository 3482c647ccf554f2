"""Every reader reads its fixture with the right count and the project's coordinate convention."""

import numpy as np
import pytest

from heatmark.data.readers import (
    load_dataset,
    read_coco_json,
    read_cofw,
    read_dlib_xml,
    read_pts,
    read_pts_folder,
    read_wflw,
    write_pts,
)


def test_pts_one_based_pixel_centre_becomes_half(tmp_path):
    f = tmp_path / "a.pts"
    f.write_text("version: 1\nn_points: 2\n{\n1 1\n10.5 20\n}\n")
    np.testing.assert_allclose(read_pts(f), [[0.5, 0.5], [10.0, 19.5]])


def test_pts_without_header(tmp_path):
    f = tmp_path / "a.pts"
    f.write_text("1 1\n2 3\n")
    np.testing.assert_allclose(read_pts(f), [[0.5, 0.5], [1.5, 2.5]])


def test_write_pts_reads_back_in_the_same_convention(tmp_path):
    """write_pts writes 1-based pixel centres (a 300W file) that read_pts turns back into the same points."""
    pts = np.array([[0.5, 0.5], [10.0, 19.5], [3.25, 7.125]], np.float32)
    f = tmp_path / "a.pts"
    write_pts(f, pts)
    assert f.read_text().splitlines()[:4] == ["version: 1", "n_points: 3", "{", "1.0000 1.0000"]
    np.testing.assert_allclose(read_pts(f, num_points=3), pts, atol=1e-4)
    with pytest.raises(ValueError, match="expected finite"):
        write_pts(tmp_path / "b.pts", np.array([[1.0, np.nan]]))


def test_300w_folder(fixtures):
    rs = load_dataset("300w", fixtures / "300w")
    assert len(rs) == 6 and all(r.scheme.name == "ibug68" and r.landmarks.shape == (68, 2) for r in rs)
    assert rs[0].landmarks.dtype == np.float32
    raw = np.loadtxt(fixtures / "300w" / f"{rs[0].name}.pts", skiprows=3, max_rows=68)
    np.testing.assert_allclose(rs[0].landmarks, raw - 0.5, atol=1e-4)


def test_300w_recursive(fixtures, tmp_path):
    import shutil

    sub = tmp_path / "lfpw" / "testset"
    shutil.copytree(fixtures / "300w", sub)
    assert len(read_pts_folder(tmp_path)) == 6
    with pytest.raises(Exception, match="no .pts"):
        read_pts_folder(tmp_path, recursive=False)


def test_facesynthetics(fixtures):
    rs = load_dataset("facesynthetics", fixtures / "facesynthetics")
    assert len(rs) == 4
    r = rs[0]
    assert r.scheme.name == "facesynthetics70" and r.landmarks.shape == (70, 2) and r.seg_path is not None
    np.testing.assert_allclose(r.landmarks, np.loadtxt(fixtures / "facesynthetics/000000_ldmks.txt"), atol=1e-5)


def test_wflw_list(fixtures):
    rs = read_wflw(fixtures / "wflw")
    assert len(rs) == 2 and rs[0].landmarks.shape == (98, 2) and rs[0].box is not None
    line = (fixtures / "wflw/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt")
    first = np.array(line.read_text().split()[:196], dtype=float).reshape(98, 2)
    np.testing.assert_allclose(rs[0].landmarks, first + 0.5, atol=1e-4)  # 0-based pixel centres
    # the list file itself works as --root too
    assert len(load_dataset("wflw", line)) == 2


def test_cofw_mat(fixtures):
    rs = read_cofw(fixtures / "cofw")
    assert len(rs) == 2 and rs[0].landmarks.shape == (29, 2)
    assert rs[0].image_array is not None and rs[0].load_image().shape[2] == 3
    assert rs[0].visible is not None and 0 < rs[0].visible.sum() < 29  # some points occluded
    import scipy.io

    phis = scipy.io.loadmat(fixtures / "cofw/COFW_test_color.mat")["phisT"]
    np.testing.assert_allclose(rs[0].landmarks[:, 0], phis[0, :29] - 0.5, atol=1e-4)


def test_dlib_xml(tmp_path, fixtures):
    import shutil

    shutil.copy(fixtures / "300w/111076519_1.jpg", tmp_path / "a.jpg")
    parts = "".join(f"<part name='{i:02d}' x='{10 + i}' y='{20 + i}'/>" for i in range(68))
    (tmp_path / "faces.xml").write_text(
        f"<dataset><images><image file='a.jpg'><box top='5' left='6' width='50' height='60'>{parts}</box>"
        f"<box top='1' left='1' width='5' height='5'/></image></images></dataset>")
    rs = read_dlib_xml(tmp_path / "faces.xml")
    assert len(rs) == 1 and rs[0].scheme.name == "ibug68"
    np.testing.assert_allclose(rs[0].landmarks[0], [10.5, 20.5])
    np.testing.assert_allclose(rs[0].box, [6, 5, 56, 65])


def test_coco_json(tmp_path, fixtures):
    import json
    import shutil

    shutil.copy(fixtures / "300w/111076519_1.jpg", tmp_path / "a.jpg")
    kps = []
    for i in range(68):
        kps += [1 + i, 2 + i, 2 if i else 0]
    json.dump({"images": [{"id": 7, "file_name": "a.jpg"}],
               "annotations": [{"id": 1, "image_id": 7, "keypoints": kps, "bbox": [0, 0, 80, 90]}]},
              (tmp_path / "ann.json").open("w"))
    rs = read_coco_json(tmp_path / "ann.json")
    assert rs[0].scheme.name == "ibug68"
    np.testing.assert_allclose(rs[0].landmarks[0], [0.5, 1.5])  # 300W in mmpose JSON stays 1-based
    assert not rs[0].visible[0] and rs[0].visible[1:].all()
    assert len(load_dataset("300w", tmp_path / "ann.json")) == 1


@pytest.mark.shared
def test_shared_datasets_read_in_full(shared):
    assert len(load_dataset("facesynthetics", shared / "facesynthetics_100")) == 100
    assert len(load_dataset("300w", shared / "300w_afw")) == 337
    assert len(load_dataset("300w", shared / "300w_helen_train")) == 870
    assert len(load_dataset("folder", shared / "real_samples/lfpw_examples")) == 2
    assert len(read_dlib_xml(shared / "real_samples/dlib_faces/training_with_face_landmarks.xml")) > 0
    import json

    for name, rel in [("wflw", "wflw/test_wflw.json"), ("cofw", "cofw/test_cofw.json"),
                      ("300w", "300w/test_300w.json")]:
        f = shared / "real_samples/mmpose_formats" / rel
        assert len(load_dataset(name, f)) == len(json.loads(f.read_text())["annotations"])
