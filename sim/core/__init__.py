"""The ground floor: plumbing with no knowledge of clusters.

:mod:`sim.core.schema` (the ``Param`` declaration type and ``ParameterError``),
:mod:`sim.core.io` (atomic writes), :mod:`sim.core.provenance` (commit, versions, dirty flag),
:mod:`sim.core.calendar` (steps per year), :mod:`sim.core.allocator` (the C allocator keeps
freed memory). Every other floor may import these; they import
nothing of the project.
"""
