# Placeholder: packageSets is written on branch issue-nixdev.
{ ... }:
throw "stowage: packageSets is not written yet"
