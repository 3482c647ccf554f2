from collections import Counter

from heatmark.engine.data import MixSampler


def test_ratios_and_determinism():
    s = MixSampler([100, 30], [0.6, 0.4], 200, seed=1)
    s.set_epoch(3)
    items = list(s)
    assert len(items) == 200
    c = Counter(src for src, _, _ in items)
    assert c[0] == 120 and c[1] == 80  # the small source repeats to reach its share
    assert all(e == 3 for _, _, e in items)
    assert items == list(MixSampler([100, 30], [0.6, 0.4], 200, seed=1).indices(3))
    assert items != MixSampler([100, 30], [0.6, 0.4], 200, seed=1).indices(4)


def test_ranks_partition_the_epoch():
    full = MixSampler([50], [1.0], None, seed=0).indices(0)
    parts = [list(MixSampler([50], [1.0], None, seed=0, rank=r, world=2)) for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == 25
    assert sorted(parts[0] + parts[1]) == sorted(full)
