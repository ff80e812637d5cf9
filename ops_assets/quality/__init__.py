"""The quality layer: Great Expectations suites over agent outputs, and the failures dataset."""
