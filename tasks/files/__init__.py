"""Competition files: reading (strict and streamed), writing, atomic replace."""
