"""What-if simulation: scenario files, weekly rounds of the optimiser against today's practice
and the hindsight ceiling, KPIs over seeds, Dask sweeps and a report. The core only: no web code.
"""

from allocator.simulation.scenario import Scenario, ScenarioConfig, ScenarioError, load_scenario

__all__ = ["Scenario", "ScenarioConfig", "ScenarioError", "load_scenario"]
