"""Jobs: renders, conversions and batches that run on job workers and never block anyone's session."""
