"""The shape of the world: tasks, the arch grammar, encodings and the validation suites."""
