"""Vectorised point → grid lookup: a raster prefilter with exact polygon tests near edges.

The grids' bounding box is cut into small square cells (about a metre on a district). Every
cell that no grid boundary passes through lies wholly inside one grid or wholly outside all of
them, so the label of its centre holds for every point in it. Cells that a boundary might cross
are marked "exact": points there get the exact polygon test. Boundaries are rasterised
conservatively (samples every third of a cell, then a one-cell dilation), so a cell that a
boundary touches is never trusted: the answers are identical to the exact test everywhere.

Points on a shared edge or vertex belong to the grid with the smallest id among those whose
closed polygon contains them; points outside every grid get no grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

OUTSIDE = -1
_EXACT = -2
DEFAULT_MAX_CELLS = 16_000_000
_CELLS_PER_POLYGON = 20_000
_METRES_PER_DEGREE = 111_320.0


class GridLocator:
    """Locate many points at once among a fixed set of polygons (sorted by id)."""

    def __init__(
        self,
        ids: Sequence[str],
        polygons: Sequence[BaseGeometry],
        *,
        max_cells: int = DEFAULT_MAX_CELLS,
    ) -> None:
        if len(ids) != len(polygons):
            raise ValueError("ids and polygons differ in length")
        order = sorted(range(len(ids)), key=lambda i: ids[i])
        self.ids: list[str] = [ids[i] for i in order]
        self.polygons = np.array([polygons[i] for i in order], dtype=object)
        self._tree = shapely.STRtree(self.polygons)
        shapely.prepare(self.polygons)
        self.cells = 0
        self.exact_cells = 0
        if len(self.ids):
            # A few grids need no 16-million-cell raster: scale it with their number.
            self._build_raster(min(max_cells, _CELLS_PER_POLYGON * len(self.ids)))

    # -- building ----------------------------------------------------------------------------

    def _build_raster(self, max_cells: int) -> None:
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(self.polygons))
        mid_lat = math.radians((y0 + y1) / 2)
        width_m = max((x1 - x0) * _METRES_PER_DEGREE * math.cos(mid_lat), 1e-6)
        height_m = max((y1 - y0) * _METRES_PER_DEGREE, 1e-6)
        cell_m = max(math.sqrt(width_m * height_m / max_cells), 0.05)
        self.dx = cell_m / (_METRES_PER_DEGREE * max(math.cos(mid_lat), 1e-6))
        self.dy = cell_m / _METRES_PER_DEGREE
        self.x0, self.y0 = x0, y0
        self.nx = max(int(math.ceil((x1 - x0) / self.dx)), 1)
        self.ny = max(int(math.ceil((y1 - y0) / self.dy)), 1)
        dtype = np.int16 if len(self.ids) < 32_000 else np.int32
        labels = np.full((self.ny, self.nx), OUTSIDE, dtype=dtype)
        # Smallest id written last, so where (bad) polygons overlap the smallest id wins.
        for index in range(len(self.ids) - 1, -1, -1):
            self._label_centres(labels, index)
        boundary = self._boundary_cells()
        labels[boundary] = _EXACT
        self.labels = labels
        self.cells = labels.size
        self.exact_cells = int(boundary.sum())

    def _cell_range(self, lo: float, hi: float, origin: float, step: float, n: int) -> range:
        first = max(int(math.floor((lo - origin) / step)), 0)
        last = min(int(math.floor((hi - origin) / step)), n - 1)
        return range(first, last + 1)

    def _label_centres(self, labels: npt.NDArray[np.integer], index: int) -> None:
        polygon = self.polygons[index]
        bx0, by0, bx1, by1 = polygon.bounds
        cols = self._cell_range(bx0, bx1, self.x0, self.dx, self.nx)
        rows = self._cell_range(by0, by1, self.y0, self.dy, self.ny)
        if not cols or not rows:
            return
        xs = self.x0 + (np.arange(cols.start, cols.stop) + 0.5) * self.dx
        ys = self.y0 + (np.arange(rows.start, rows.stop) + 0.5) * self.dy
        grid_x, grid_y = np.meshgrid(xs, ys)
        inside = shapely.contains_xy(polygon, grid_x, grid_y)
        block = labels[rows.start : rows.stop, cols.start : cols.stop]
        block[inside] = index

    def _boundary_cells(self) -> npt.NDArray[np.bool_]:
        marked = np.zeros((self.ny, self.nx), dtype=bool)
        rings = shapely.get_rings(shapely.get_parts(self.polygons))
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        same_ring = ring_of[:-1] == ring_of[1:]
        starts, ends = coords[:-1][same_ring], coords[1:][same_ring]
        step = min(self.dx, self.dy) / 3
        lengths = np.hypot(ends[:, 0] - starts[:, 0], ends[:, 1] - starts[:, 1])
        samples = np.maximum(np.ceil(lengths / step).astype(np.int64), 1) + 1
        segment = np.repeat(np.arange(len(starts)), samples)
        first_sample = np.repeat(np.cumsum(samples) - samples, samples)
        t = (np.arange(len(segment)) - first_sample) / np.repeat(samples - 1, samples)
        px = starts[segment, 0] + t * (ends[segment, 0] - starts[segment, 0])
        py = starts[segment, 1] + t * (ends[segment, 1] - starts[segment, 1])
        ix = np.clip(np.floor((px - self.x0) / self.dx).astype(np.int64), 0, self.nx - 1)
        iy = np.clip(np.floor((py - self.y0) / self.dy).astype(np.int64), 0, self.ny - 1)
        marked[iy, ix] = True
        # One-cell dilation: a boundary within a third of a cell of a sample is caught.
        dilated = marked.copy()
        dilated[1:, :] |= marked[:-1, :]
        dilated[:-1, :] |= marked[1:, :]
        grown = dilated.copy()
        grown[:, 1:] |= dilated[:, :-1]
        grown[:, :-1] |= dilated[:, 1:]
        return grown

    # -- querying ----------------------------------------------------------------------------

    def locate_indices(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Return, for each point, the index into :attr:`ids` of its grid, or -1."""
        xs = np.asarray(lon, dtype=np.float64)
        ys = np.asarray(lat, dtype=np.float64)
        result = np.full(xs.shape, OUTSIDE, dtype=np.int64)
        if not self.ids or xs.size == 0:
            return result
        fx = np.floor((xs - self.x0) / self.dx)
        fy = np.floor((ys - self.y0) / self.dy)
        # The raster's last row/column may stop short of the data bounds by rounding: points
        # just past the raster go to the exact path instead of being called outside.
        near = (fx >= -1) & (fx <= self.nx) & (fy >= -1) & (fy <= self.ny)
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        ix = np.where(inside, fx, 0).astype(np.int64)
        iy = np.where(inside, fy, 0).astype(np.int64)
        labels = self.labels[iy, ix].astype(np.int64)
        result[inside] = labels[inside]
        exact = (inside & (labels == _EXACT)) | (near & ~inside)
        if exact.any():
            result[exact] = self._exact(xs[exact], ys[exact])
        return result

    def _exact(
        self, xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        points = shapely.points(xs, ys)
        point_index, polygon_index = self._tree.query(points, predicate="intersects")
        found = np.full(len(xs), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(found, point_index, polygon_index)
        return np.where(found == np.iinfo(np.int64).max, OUTSIDE, found)

    def locate_one(self, lon: float, lat: float) -> str | None:
        """Return the grid id of one point: :meth:`locate` without numpy's per-call overhead."""
        if not self.ids or not (math.isfinite(lon) and math.isfinite(lat)):
            return None
        fx = math.floor((lon - self.x0) / self.dx)
        fy = math.floor((lat - self.y0) / self.dy)
        if 0 <= fx < self.nx and 0 <= fy < self.ny:
            label = int(self.labels[fy, fx])
            if label != _EXACT:
                return self.ids[label] if label >= 0 else None
        elif not (-1 <= fx <= self.nx and -1 <= fy <= self.ny):
            return None
        index = int(self._exact(np.array([lon], dtype=np.float64), np.array([lat]))[0])
        return self.ids[index] if index >= 0 else None

    def locate(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> list[str | None]:
        """Return the grid id of each point (None outside every grid)."""
        return [self.ids[i] if i >= 0 else None for i in self.locate_indices(lon, lat)]

    def locate_exact(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> list[str | None]:
        """Return the same answer as :meth:`locate` using only exact polygon tests (reference)."""
        xs = np.asarray(lon, dtype=np.float64)
        ys = np.asarray(lat, dtype=np.float64)
        return [self.ids[i] if i >= 0 else None for i in self._exact(xs, ys)]
