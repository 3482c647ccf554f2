from collections import Counter

from heatmark.engine.data import MixSampler


def test_ratios_and_determinism():
    s = MixSampler([100, 30], [0.6, 0.4], 200, seed=1)
    s.set_epoch(3)
    items = list(s)
    assert len(items) == 200
    c = Counter(src for src, _, _, _ in items)
    assert c[0] == 120 and c[1] == 80  # the small source repeats to reach its share
    assert all(e == 3 for _, _, e, _ in items)
    assert items == list(MixSampler([100, 30], [0.6, 0.4], 200, seed=1).indices(3))
    assert items != MixSampler([100, 30], [0.6, 0.4], 200, seed=1).indices(4)


def test_ranks_partition_the_epoch():
    full = MixSampler([50], [1.0], None, seed=0).indices(0)
    parts = [list(MixSampler([50], [1.0], None, seed=0, rank=r, world=2)) for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == 25
    assert sorted(parts[0] + parts[1]) == sorted(full)


def test_a_sample_drawn_twice_in_an_epoch_is_a_different_item():
    """100 faces, 1600 draws per epoch (the benchmark's budget): every face is drawn 16 times, and each
    draw must carry its own augmentation key, else the epoch repeats 100 images 16 times."""
    items = MixSampler([100], [1.0], 1600, seed=0).indices(5)
    assert len(set(items)) == 1600
    per_face = Counter(i for _, i, _, _ in items)
    assert set(per_face.values()) == {16}
    assert {d for _, i, _, d in items if i == 7} == set(range(16))
    # a source drawn once per epoch keeps draw 0 (the single-pass augmentation key)
    assert {d for *_, d in MixSampler([50, 50], [1.0, 1.0], 100, seed=0).indices(0)} == {0}
