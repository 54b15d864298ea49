"""Building blocks of the static site; `tasks.render` is the public entry point that composes them."""
