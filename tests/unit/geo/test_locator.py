"""GridLocator: the raster prefilter gives exactly the answers of the exact polygon test.

The reference here is written independently of the locator: ``covers`` on every polygon in id
order, first hit wins (the documented rule: a point on a shared edge or vertex belongs to the
grid with the smallest id among those whose closed polygon holds it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from cityops.geo.locator import GridLocator

X0, Y0 = 121.40, 31.20
STEP = 0.001  # about 95 m × 111 m
COLS, ROWS = 12, 10
SMALL = 40_000  # max_cells for the small layouts (the default raster takes about a second)


def _lattice() -> np.ndarray:
    """Jittered lattice vertices: every cell a quadrilateral sharing its vertices exactly."""
    rng = np.random.default_rng(20261120)
    xs = X0 + np.arange(COLS + 1) * STEP
    ys = Y0 + np.arange(ROWS + 1) * STEP
    vx, vy = np.meshgrid(xs, ys)  # shape (ROWS + 1, COLS + 1)
    jitter = rng.uniform(-0.3 * STEP, 0.3 * STEP, size=(2, ROWS + 1, COLS + 1))
    return np.stack([vx + jitter[0], vy + jitter[1]], axis=-1)


def _quad(v: np.ndarray, row: int, col: int) -> Polygon:
    return Polygon(
        [
            tuple(v[row, col]),
            tuple(v[row, col + 1]),
            tuple(v[row + 1, col + 1]),
            tuple(v[row + 1, col]),
        ]
    )


def _l_shape(v: np.ndarray, row: int, col: int) -> Polygon:
    """Cells (row, col), (row, col+1) and (row+1, col) as one concave polygon (lattice vertices)."""
    ring = [
        v[row, col],
        v[row, col + 1],
        v[row, col + 2],
        v[row + 1, col + 2],
        v[row + 1, col + 1],
        v[row + 2, col + 1],
        v[row + 2, col],
        v[row + 1, col],
    ]
    return Polygon([tuple(p) for p in ring])


def synthetic_grids() -> tuple[list[str], list[BaseGeometry]]:
    """A lattice of quadrilaterals with L-shapes, a MultiPolygon, a hole and an overlap.

    Ids are shuffled so that "smallest id wins" is not the same as "first in space".
    """
    v = _lattice()
    taken: set[tuple[int, int]] = set()
    shapes: list[BaseGeometry] = []
    for row, col in ((0, 0), (4, 6), (7, 9)):
        shapes.append(_l_shape(v, row, col))
        taken |= {(row, col), (row, col + 1), (row + 1, col)}
    # A MultiPolygon grid: two cells that do not touch.
    shapes.append(MultiPolygon([_quad(v, 2, 3), _quad(v, 8, 1)]))
    taken |= {(2, 3), (8, 1)}
    # A grid with a hole; the hole is another grid, but only part of it (the rest is outside).
    outer = _quad(v, 5, 2)
    centre = outer.centroid
    hole = shapely.box(
        centre.x - STEP / 4, centre.y - STEP / 4, centre.x + STEP / 4, centre.y + STEP / 4
    )
    shapes.append(Polygon(outer.exterior.coords, [hole.exterior.coords]))
    shapes.append(
        shapely.box(centre.x - STEP / 4, centre.y - STEP / 4, centre.x, centre.y + STEP / 4)
    )
    taken.add((5, 2))
    for row in range(ROWS):
        for col in range(COLS):
            if (row, col) not in taken and (row, col) != (9, 11):  # one cell left empty
                shapes.append(_quad(v, row, col))
    # A bad grid overlapping several others, and one lying half outside the lattice.
    shapes.append(
        Polygon(
            [
                (X0 + 3.3 * STEP, Y0 + 6.2 * STEP),
                (X0 + 6.1 * STEP, Y0 + 6.9 * STEP),
                (X0 + 4.2 * STEP, Y0 + 8.8 * STEP),
            ]
        )
    )
    shapes.append(shapely.box(X0 - 0.5 * STEP, Y0 + 3 * STEP, X0 + 0.6 * STEP, Y0 + 4 * STEP))
    rng = np.random.default_rng(7)
    numbers = rng.permutation(len(shapes)) + 1
    ids = [f"310101001001{n:03d}" for n in numbers]
    assert all(s.is_valid for s in shapes)
    return ids, shapes


IDS, SHAPES = synthetic_grids()
LOCATOR = GridLocator(IDS, SHAPES)  # the default raster: cells of about 0.3 m here
COARSE = GridLocator(IDS, SHAPES, max_cells=1000)
SINGLE_CELL = GridLocator(IDS, SHAPES, max_cells=1)


def reference(ids: list[str], shapes: list[BaseGeometry], xs, ys) -> list[str | None]:
    """Brute force: ``covers`` on each polygon in id order; the first hit (smallest id) wins."""
    points = shapely.points(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    answer: list[str | None] = [None] * len(points)
    for grid_id, shape in sorted(zip(ids, shapes, strict=True), key=lambda pair: pair[0]):
        hits = shapely.covers(shape, points)
        for i in np.flatnonzero(hits):
            if answer[i] is None:
                answer[i] = grid_id
    return answer


def _vertices(shapes: list[BaseGeometry]) -> np.ndarray:
    rings = shapely.get_rings(shapely.get_parts(np.array(shapes, dtype=object)))
    return shapely.get_coordinates(rings)


def _edges(shapes: list[BaseGeometry]) -> tuple[np.ndarray, np.ndarray]:
    rings = shapely.get_rings(shapely.get_parts(np.array(shapes, dtype=object)))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    return coords[:-1][same], coords[1:][same]


VERTICES = _vertices(SHAPES)
EDGE_START, EDGE_END = _edges(SHAPES)
MIN_X, MIN_Y, MAX_X, MAX_Y = shapely.total_bounds(np.array(SHAPES, dtype=object))


def assert_all_agree(xs, ys) -> list[str | None]:
    expected = reference(IDS, SHAPES, xs, ys)
    assert LOCATOR.locate_exact(xs, ys) == expected
    assert LOCATOR.locate(xs, ys) == expected
    assert COARSE.locate(xs, ys) == expected
    assert SINGLE_CELL.locate(xs, ys) == expected
    for locator in (LOCATOR, COARSE, SINGLE_CELL):  # the one-point path agrees everywhere
        assert [
            locator.locate_one(float(x), float(y)) for x, y in zip(xs, ys, strict=True)
        ] == expected
    return expected


def test_the_synthetic_layout_is_what_the_tests_need() -> None:
    assert len(set(IDS)) == len(IDS)
    kinds = {s.geom_type for s in SHAPES}
    assert kinds == {"Polygon", "MultiPolygon"}
    assert any(len(s.interiors) for s in SHAPES if s.geom_type == "Polygon")
    assert any(not shapely.equals(s, s.convex_hull) for s in SHAPES)  # concave ones
    # The raster is real: most cells are trusted, and the coarse one really is coarse.
    assert LOCATOR.exact_cells < LOCATOR.cells / 2
    assert COARSE.cells < LOCATOR.cells / 100
    assert SINGLE_CELL.exact_cells == SINGLE_CELL.cells


def test_many_points_vertices_and_edge_points_match_the_reference() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    xs = rng.uniform(MIN_X - 2 * STEP, MAX_X + 2 * STEP, n)
    ys = rng.uniform(MIN_Y - 2 * STEP, MAX_Y + 2 * STEP, n)
    t = rng.uniform(0, 1, len(EDGE_START))
    on_edges = EDGE_START + t[:, None] * (EDGE_END - EDGE_START)
    midpoints = (EDGE_START + EDGE_END) / 2
    # Points close to the edges (up to a third of a lattice step off), where a raster cell
    # that a boundary crosses must never be trusted.
    k = 40
    t = rng.uniform(0, 1, (len(EDGE_START), k))
    along = EDGE_START[:, None, :] + t[..., None] * (EDGE_END - EDGE_START)[:, None, :]
    near_edges = (along + rng.normal(0, STEP / 10, along.shape)).reshape(-1, 2)
    all_x = np.concatenate([xs, VERTICES[:, 0], on_edges[:, 0], midpoints[:, 0], near_edges[:, 0]])
    all_y = np.concatenate([ys, VERTICES[:, 1], on_edges[:, 1], midpoints[:, 1], near_edges[:, 1]])
    expected = assert_all_agree(all_x, all_y)
    # Every vertex is in some grid, and some points fall outside every grid.
    assert None not in expected[n : n + len(VERTICES)]
    assert None in expected[:n]
    assert len({e for e in expected if e}) == len(IDS)


@st.composite
def points(draw: st.DrawFn) -> tuple[float, float]:
    kind = draw(st.sampled_from(["anywhere", "vertex", "edge", "near_vertex", "near_edge"]))
    if kind == "anywhere":
        x = draw(st.floats(MIN_X - STEP, MAX_X + STEP, allow_nan=False))
        y = draw(st.floats(MIN_Y - STEP, MAX_Y + STEP, allow_nan=False))
        return x, y
    if kind in ("vertex", "near_vertex"):
        i = draw(st.integers(0, len(VERTICES) - 1))
        x, y = VERTICES[i]
        if kind == "near_vertex":
            x += draw(st.floats(-1e-9, 1e-9))
            y += draw(st.floats(-1e-9, 1e-9))
        return float(x), float(y)
    i = draw(st.integers(0, len(EDGE_START) - 1))
    t = draw(st.floats(0, 1) | st.sampled_from([0.0, 0.5, 1.0, 1 / 3]))
    p = EDGE_START[i] + t * (EDGE_END[i] - EDGE_START[i])
    if kind == "near_edge":
        p = p + np.array(
            [draw(st.floats(-STEP / 5, STEP / 5)), draw(st.floats(-STEP / 5, STEP / 5))]
        )
    return float(p[0]), float(p[1])


@settings(max_examples=300, deadline=None)
@given(st.lists(points(), min_size=1, max_size=40))
def test_locate_equals_exact_equals_reference(batch: list[tuple[float, float]]) -> None:
    xs = [p[0] for p in batch]
    ys = [p[1] for p in batch]
    assert_all_agree(xs, ys)
    # One point at a time gives the same as the batch.
    assert [LOCATOR.locate([x], [y])[0] for x, y in batch] == LOCATOR.locate(xs, ys)


# -- the documented rule on a layout with exact coordinates ------------------------------------


def _two_by_two() -> GridLocator:
    # Squares with binary-exact corners; ids chosen so the smallest is not the lower-left one.
    #   D | A        (x from 120.0 to 120.5, y from 30.0 to 30.5, the shared vertex at 120.25/30.25)
    #   --+--
    #   C | B
    ids = ["D", "A", "C", "B"]
    shapes = [
        shapely.box(120.0, 30.25, 120.25, 30.5),
        shapely.box(120.25, 30.25, 120.5, 30.5),
        shapely.box(120.0, 30.0, 120.25, 30.25),
        shapely.box(120.25, 30.0, 120.5, 30.25),
    ]
    return GridLocator(ids, shapes, max_cells=SMALL)


TWO_BY_TWO = _two_by_two()


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (120.125, 30.375, "D"),
        (120.375, 30.125, "B"),
        (120.25, 30.25, "A"),  # the vertex all four share
        (120.125, 30.25, "C"),  # the edge between C and D
        (120.375, 30.25, "A"),  # the edge between A and B
        (120.25, 30.125, "B"),  # the edge between B and C
        (120.25, 30.375, "A"),  # the edge between A and D
        (120.0, 30.0, "C"),  # an outer corner
        (120.5, 30.5, "A"),  # the far outer corner (on the data bounds)
        (120.0, 30.4, "D"),  # on the outer edge
        (119.9999999, 30.4, None),
        (120.5000001, 30.1, None),
        (120.25, 30.5000001, None),
    ],
)
def test_shared_edges_and_vertices_belong_to_the_smallest_id(
    lon: float, lat: float, expected: str | None
) -> None:
    assert TWO_BY_TWO.locate([lon], [lat]) == [expected]
    assert TWO_BY_TWO.locate_exact([lon], [lat]) == [expected]
    assert TWO_BY_TWO.locate_one(lon, lat) == expected


def test_outside_nan_infinite_and_far_away_points_have_no_grid() -> None:
    xs = [np.nan, 121.405, np.inf, -np.inf, 0.0, -180.0, 180.0, 121.405, MIN_X - 1, 1e300]
    ys = [31.205, np.nan, 31.205, 31.205, 0.0, -90.0, 90.0, -np.inf, MIN_Y, 1e300]
    assert LOCATOR.locate(xs, ys) == [None] * len(xs)
    assert LOCATOR.locate_exact(xs, ys) == [None] * len(xs)
    assert [LOCATOR.locate_one(x, y) for x, y in zip(xs, ys, strict=True)] == [None] * len(xs)
    assert COARSE.locate(xs, ys) == [None] * len(xs)


def test_overlapping_polygons_give_the_smallest_id() -> None:
    big = shapely.box(120.0, 30.0, 120.02, 30.02)
    small = shapely.box(120.005, 30.005, 120.01, 30.01)
    for ids in (["B", "A"], ["A", "B"]):
        shapes = [big, small] if ids == ["B", "A"] else [small, big]
        locator = GridLocator(ids, shapes, max_cells=SMALL)
        xs, ys = [120.0075, 120.001, 120.005, 120.03], [30.0075, 30.001, 30.0075, 30.0]
        assert locator.locate(xs, ys) == ["A", "B", "A", None]
        assert locator.locate_exact(xs, ys) == ["A", "B", "A", None]


def test_hole_is_not_part_of_its_grid() -> None:
    outer = shapely.box(120.0, 30.0, 120.01, 30.01)
    with_hole = Polygon(
        outer.exterior.coords, [shapely.box(120.004, 30.004, 120.006, 30.006).exterior.coords]
    )
    locator = GridLocator(["G"], [with_hole], max_cells=SMALL)
    assert locator.locate([120.005, 120.002, 120.004], [30.005, 30.002, 30.005]) == [
        None,
        "G",
        "G",  # the hole's edge belongs to the closed polygon
    ]


def test_an_empty_locator_finds_nothing() -> None:
    locator = GridLocator([], [])
    assert locator.locate([121.4, np.nan], [31.2, 0.0]) == [None, None]
    assert locator.locate_exact([121.4], [31.2]) == [None]
    assert locator.locate([], []) == []
    assert locator.locate_one(121.4, 31.2) is None


def test_ids_and_polygons_must_match() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        GridLocator(["A", "B"], [shapely.box(0, 0, 1, 1)])


def test_ids_are_sorted_and_indices_point_into_them() -> None:
    locator = GridLocator(
        ["C", "A", "B"],
        [shapely.box(2, 0, 3, 1), shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        max_cells=SMALL,
    )
    assert locator.ids == ["A", "B", "C"]
    found = locator.locate_indices([0.5, 1.5, 2.5, 5.0], [0.5, 0.5, 0.5, 0.5])
    assert found.tolist() == [0, 1, 2, -1]


def test_a_lattice_at_high_latitude_and_across_the_antimeridian_side() -> None:
    # Narrow cells in longitude (cos(lat) small) must still be exact.
    lat0 = 69.0
    ids, shapes = [], []
    for i in range(6):
        for j in range(4):
            ids.append(f"{i}{j}")
            shapes.append(
                shapely.box(
                    179.9 + i * 0.01,
                    lat0 + j * 0.005,
                    179.9 + (i + 1) * 0.01,
                    lat0 + (j + 1) * 0.005,
                )
            )
    locator = GridLocator(ids, shapes, max_cells=5000)
    rng = np.random.default_rng(3)
    xs = np.concatenate([rng.uniform(179.89, 180.0, 3000), _vertices(shapes)[:, 0]])
    ys = np.concatenate([rng.uniform(lat0 - 0.001, lat0 + 0.021, 3000), _vertices(shapes)[:, 1]])
    assert locator.locate(xs, ys) == reference(ids, shapes, xs, ys)
    assert math.isfinite(locator.dx)
