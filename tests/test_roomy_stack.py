"""core.roomy_stack: calls made below ``call_with_room`` never map and unmap a frame-stack chunk.

The probe calls a small function 2,000 times at each call depth from 0 to 400: at the
depth where the caller's frame ends a chunk, every one of those calls maps a new chunk
and unmaps it on return, and each mapping is a fresh page fault. Page faults are counted
by the kernel, so the figures are exact, not timings.
"""

from __future__ import annotations

import resource

import pytest

from datasync.core.roomy_stack import call_with_room

CALLS = 2000


def _leaf(a: int, b: int, c: int, d: int) -> int:
    return a


def _faults_at(depth: int) -> int:
    """Page faults of CALLS calls of a small function made ``depth`` frames down."""
    if depth:
        return _faults_at(depth - 1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(CALLS):
        _leaf(1, 2, 3, 4)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _worst_depth() -> int:
    return max(_faults_at(depth) for depth in range(400))


def test_a_chunk_boundary_costs_a_fault_per_call_without_room() -> None:
    # the probe finds the boundary: one depth faults on (nearly) every call
    assert _worst_depth() >= CALLS * 0.9


def test_no_call_below_call_with_room_maps_a_chunk() -> None:
    assert call_with_room(_worst_depth) < CALLS * 0.05


def test_call_with_room_passes_arguments_results_and_errors() -> None:
    assert call_with_room(lambda a, b=0: (a, b), 1, b=2) == (1, 2)
    with pytest.raises(KeyError, match="missing"):
        call_with_room({}.__getitem__, "missing")
