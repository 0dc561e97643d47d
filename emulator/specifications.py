"""The function runtime specifications catalog: the CPU and memory sizes a function may ask for
(`specification`, `buildSpecification`, `runtimeSpecification`), as Appwrite's slugs."""
from __future__ import annotations

# (slug, CPUs, memory in MB)
SPECIFICATIONS = [
    ("s-0.5vcpu-512mb", 0.5, 512), ("s-1vcpu-512mb", 1, 512), ("s-1vcpu-1gb", 1, 1024),
    ("s-2vcpu-2gb", 2, 2048), ("s-2vcpu-4gb", 2, 4096), ("s-4vcpu-4gb", 4, 4096), ("s-4vcpu-8gb", 4, 8192),
    ("s-8vcpu-4gb", 8, 4096), ("s-8vcpu-8gb", 8, 8192),
]
SPEC_SLUGS = [s[0] for s in SPECIFICATIONS]
DEFAULT_SPECIFICATION = "s-1vcpu-512mb"
