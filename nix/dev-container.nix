# Placeholder: mkDevContainer is written on branch issue-nixdev.
{ ... }:
_: throw "stowage: mkDevContainer is not written yet"
