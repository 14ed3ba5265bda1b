"""From a Scenario to numbers and back: arrays, distances, adjacency, contiguity, the one evaluator."""
