"""Component and matter classes of GB/T 47678.5-2026 (管理部件和事项) and legacy code maps.

The class tables are versioned data files inside the package (``data/``, with a README naming
their source and confidence grade). :mod:`cityops.catalog.reference` reads them lazily and
validates class codes, 17-digit component ids and 11-digit matter codes.
"""

from cityops.catalog.model import (
    AbsentCode,
    ComponentClass,
    ComponentId,
    Kind,
    LegacyCode,
    MajorClass,
    MatterClass,
    MatterCode,
)
from cityops.catalog.reference import (
    LEGACY_STANDARDS,
    STANDARD,
    absent_codes,
    check_class_code,
    check_component_class,
    check_division_code,
    check_matter_class,
    component_class,
    component_classes,
    legacy_codes,
    major_classes,
    make_component_id,
    make_matter_code,
    map_legacy,
    matter_class,
    matter_classes,
    parse_component_id,
    parse_matter_code,
)

__all__ = [
    "LEGACY_STANDARDS",
    "STANDARD",
    "AbsentCode",
    "ComponentClass",
    "ComponentId",
    "Kind",
    "LegacyCode",
    "MajorClass",
    "MatterClass",
    "MatterCode",
    "absent_codes",
    "check_class_code",
    "check_component_class",
    "check_division_code",
    "check_matter_class",
    "component_class",
    "component_classes",
    "legacy_codes",
    "major_classes",
    "make_component_id",
    "make_matter_code",
    "map_legacy",
    "matter_class",
    "matter_classes",
    "parse_component_id",
    "parse_matter_code",
]
