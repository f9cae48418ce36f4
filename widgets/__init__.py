"""ipywidgets front ends; they use only the public API of automodel."""
