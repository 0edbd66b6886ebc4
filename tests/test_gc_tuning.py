"""The garbage collector as ``serve`` tunes it: the start-up heap frozen, young collections
rare, and full collections spaced out (``MESSAGING_GC_FULL_COLLECTION_EVERY``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tutorhub_messaging.cli import GC_YOUNG_THRESHOLD, tune_garbage_collector
from tutorhub_messaging.settings import Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_serve_spaces_full_collections_as_configured() -> None:
    middle = gc.get_threshold()[1]

    tune_garbage_collector(Settings(gc_full_collection_every=37).gc_full_collection_every)

    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, middle, 37)
    assert gc.get_freeze_count() > 0  # what was imported is out of every later collection


def test_by_default_a_full_collection_comes_at_most_every_100_middle_ones() -> None:
    assert Settings().gc_full_collection_every == 100


@pytest.mark.usefixtures("restored_gc")
def test_tuning_turns_the_collector_back_on_after_an_import_with_it_off() -> None:
    # ``serve`` imports the service with the collector off (a faster start); tuning freezes what
    # was imported without a full collection and must leave the collector running.
    gc.disable()
    try:
        tune_garbage_collector()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.enable()
