"""The composition root: wires settings, store and stages together for the fronts."""
