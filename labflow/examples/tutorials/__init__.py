"""TF 1.x tutorial module paths (`tensorflow.examples.tutorials...`)."""
