"""Benchmark point → grid location on the demo district's ~2,000 irregular unit grids.

Prints, in the same run on the same core:
  * cityops' batch path (``GridLocator``: raster prefilter + exact tests near edges);
  * a plain shapely ``STRtree`` query with the exact predicate over the same grids;
  * a floor-division lookup on a regular lattice (the arithmetic bound: no polygons at all);
and checks that cityops' answers are identical to the exact polygon test for every point.

Usage: python benchmarks/geo_locate.py [--points 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from cityops.demo.city import generate
from cityops.geo.locator import GridLocator


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    city = generate()
    ids = [g.code for g in city.grids]
    polygons = [g.geometry for g in city.grids]
    min_x, min_y, max_x, max_y = shapely.total_bounds(np.array(polygons, dtype=object))
    rng = np.random.default_rng(args.seed)
    lon = rng.uniform(min_x, max_x, args.points)
    lat = rng.uniform(min_y, max_y, args.points)
    print(
        f"{len(ids):,} unit grids (irregular, median ~1 ha), {args.points:,} random points "
        "in their bounding box, one core"
    )

    started = time.perf_counter()
    locator = GridLocator(ids, polygons)
    build = time.perf_counter() - started
    print(
        f"index build: {build:.2f} s, raster {locator.nx}×{locator.ny} cells, "
        f"{locator.exact_cells / locator.cells:.1%} of cells need the exact test"
    )

    started = time.perf_counter()
    ours = locator.locate_indices(lon, lat)
    ours_s = time.perf_counter() - started

    # The same polygons in the same (id) order, so indices are comparable.
    tree = shapely.STRtree(locator.polygons)
    points = shapely.points(lon, lat)
    started = time.perf_counter()
    point_index, polygon_index = tree.query(points, predicate="intersects")
    exact = np.full(args.points, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(exact, point_index, polygon_index)  # on an edge: the smallest id wins
    exact = np.where(exact == np.iinfo(np.int64).max, -1, exact)
    strtree_s = time.perf_counter() - started

    lattice = np.arange(100 * 100, dtype=np.int32).reshape(100, 100)
    started = time.perf_counter()
    ix = np.floor((lon - min_x) / ((max_x - min_x) / 100)).astype(np.int64).clip(0, 99)
    iy = np.floor((lat - min_y) / ((max_y - min_y) / 100)).astype(np.int64).clip(0, 99)
    _regular = lattice[iy, ix]
    floor_s = time.perf_counter() - started

    inside_mask = exact >= 0
    inside_lon, inside_lat = lon[inside_mask], lat[inside_mask]
    started = time.perf_counter()
    ours_inside = locator.locate_indices(inside_lon, inside_lat)
    inside_s = time.perf_counter() - started

    mismatches = int((ours != exact).sum()) + int((ours_inside != exact[inside_mask]).sum())
    inside = int((ours >= 0).sum())
    print(f"\n  {'path':<58} {'points/s':>12}")
    print(f"  {'cityops GridLocator (batch locate)':<58} {args.points / ours_s:>12,.0f}")
    print(
        f"  {'cityops GridLocator, only the points inside a grid':<58} "
        f"{len(inside_lon) / inside_s:>12,.0f}"
    )
    print(
        f"  {'shapely STRtree.query(predicate=intersects), exact':<58} "
        f"{args.points / strtree_s:>12,.0f}"
    )
    print(
        f"  {'floor division on a regular 100×100 lattice (bound)':<58} "
        f"{args.points / floor_s:>12,.0f}"
    )
    print(
        f"\n  identical to the exact polygon test: {mismatches == 0} "
        f"({mismatches} mismatches; {inside:,} points inside a grid)"
    )
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
