"""Dataset readers. Each returns :class:`Records` of :class:`LandmarkRecord` in heatmark's single
coordinate convention (0-based continuous pixels, origin at the top-left corner of the top-left
pixel). Format conventions are converted here and nowhere else:

=================  =====================================  ==================
format             stored convention                      added on read
=================  =====================================  ==================
FaceSynthetics     continuous, origin at pixel corner     0
300W / iBUG .pts   1-based, (1, 1) = centre of 1st pixel   -0.5
COFW .mat          1-based (MATLAB)                        -0.5
WFLW list          0-based, (0, 0) = centre of 1st pixel   +0.5
dlib XML           0-based integer pixel indices           +0.5
COCO-style JSON    as the source dataset (see ``offset``)  per dataset
CUHK / MTFL lists  1-based (MATLAB-era tools)              -0.5
=================  =====================================  ==================

With ``skip_bad=False`` (the default) the first bad sample raises :class:`DataError` naming the
file; with ``skip_bad=True`` bad samples are skipped and listed in ``Records.skipped``.
"""

from __future__ import annotations

from pathlib import Path

from heatmark.data.readers.common import DATASETS, INDEX_OFFSET, PTS_OFFSET, scheme_for_count
from heatmark.data.readers.faces import read_facesynthetics, read_ldmks_txt, read_pts, read_pts_folder, write_pts
from heatmark.data.readers.files import read_coco_json, read_cofw, read_cuhk, read_dlib_xml, read_mtfl, read_wflw
from heatmark.data.records import Records, convert_record
from heatmark.data.schemes import Scheme, can_convert, get_scheme
from heatmark.errors import DataError

# the scheme each format stores (None: the files say, e.g. a folder of .pts of any count)
NATIVE_SCHEMES = {"300w": "ibug68", "facesynthetics": "facesynthetics70", "wflw": "wflw98", "cofw": "cofw29",
                  "cuhk": "face5", "mtfl": "face5"}


# ------------------------------------------------------------------ dispatcher
def load_dataset(name: str, root: str | Path, scheme: str | Scheme | None = None, skip_bad: bool = False) -> Records:
    """Read a dataset by name: ``facesynthetics``, ``300w``, ``wflw``, ``cofw``, ``folder``, ``dlib``, ``coco``,
    ``cuhk``, ``mtfl`` (the last two: 5-point lists, root = the list file).

    A ``.json`` root is read as COCO-style keypoints whatever the name (mmpose's 300W/WFLW/COFW files).
    Every reader converts its format's coordinates to heatmark's convention (continuous pixels, origin at the
    top-left corner of the top-left pixel): e.g. 300W ``.pts`` are 1-based pixel centres, so 0.5 is subtracted.

    Args:
        name: the dataset format (above).
        root: its folder, or the list / JSON file for ``cuhk``, ``mtfl`` and ``coco``.
        scheme: the landmark scheme to read into (a name such as ``"ibug68"``, or a :class:`Scheme`); None:
            the format's own. A set read in a scheme its own converts to (68/70/98 points as ``face5``, 70 or 98
            as ``ibug68``) is converted on load.
        skip_bad: list bad samples in ``Records.skipped`` and go on, instead of raising on the first.

    Returns:
        ``Records``, a list of ``LandmarkRecord`` (image path, (K, 2) landmarks, visibility, box).

    Raises:
        DataError: an unknown name, a missing folder or file, an annotation with the wrong number of points or
            no image beside it (the message names the file and the fix).

    Examples:
        >>> recs = load_dataset("300w", "../shared/data/300w_afw")
        >>> recs[0].landmarks.shape
        (68, 2)
    """
    name = name.lower()
    root = Path(root)
    if name not in DATASETS:
        raise DataError(None, f"unknown dataset {name!r}", f"valid names: {', '.join(DATASETS)}")
    native = NATIVE_SCHEMES.get(name) if root.suffix.lower() != ".json" else None
    if scheme is not None and native and get_scheme(scheme).name != native and can_convert(native, scheme):
        recs = load_dataset(name, root, None, skip_bad)  # e.g. 300W read as 5 points: read 68, then convert
        return Records([convert_record(r, get_scheme(scheme)) for r in recs], recs.skipped)
    if root.suffix.lower() == ".json" or name == "coco":
        default = {"300w": "ibug68", "wflw": "wflw98", "cofw": "cofw29"}.get(name)
        return read_coco_json(root, scheme=scheme or default, skip_bad=skip_bad)
    if name == "facesynthetics":
        return read_facesynthetics(root, skip_bad=skip_bad)
    if name == "300w":
        return read_pts_folder(root, scheme=scheme or "ibug68", skip_bad=skip_bad)
    if name == "folder":
        return read_pts_folder(root, scheme=scheme, skip_bad=skip_bad)
    if name == "wflw":
        return read_wflw(root, skip_bad=skip_bad)
    if name == "cuhk":
        return read_cuhk(root, skip_bad=skip_bad)
    if name == "mtfl":
        return read_mtfl(root, skip_bad=skip_bad)
    if name == "cofw":
        return read_cofw(root, skip_bad=skip_bad)
    return read_dlib_xml(root, skip_bad=skip_bad)


__all__ = ["DATASETS", "INDEX_OFFSET", "PTS_OFFSET", "load_dataset", "read_coco_json", "read_cofw", "read_dlib_xml",
           "read_cuhk", "read_facesynthetics", "read_ldmks_txt", "read_mtfl", "read_pts", "read_pts_folder",
           "read_wflw", "scheme_for_count", "write_pts"]
