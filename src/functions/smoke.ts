// Placeholder so the entry point compiles; the local-host work replaces it with smoke functions.
export {};
