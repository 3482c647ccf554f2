"""Data: landmark schemes, readers, crops, caching and augmentation. Never imports models."""

from heatmark.data.readers import DATASETS, load_dataset, read_pts
from heatmark.data.records import LandmarkRecord, Records
from heatmark.data.schemes import Scheme, convert_points, get_scheme

__all__ = ["DATASETS", "LandmarkRecord", "Records", "Scheme", "convert_points", "get_scheme", "load_dataset",
           "read_pts"]
