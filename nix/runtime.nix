# Placeholder: mkRuntime is written on branch issue-nixdev.
{ ... }:
_: throw "stowage: mkRuntime is not written yet"
