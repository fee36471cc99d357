"""What-if simulation: scenario files, weekly rounds of today's practice, regional first come
first served and the optimiser on common random numbers, two ceilings, honest KPIs with paired
differences over seeds, Dask sweeps and a report. The core only: no web code.
"""

from allocator.simulation.scenario import Scenario, ScenarioConfig, ScenarioError, load_scenario

__all__ = ["Scenario", "ScenarioConfig", "ScenarioError", "load_scenario"]
