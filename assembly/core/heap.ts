// What an allocation costs on the module's heap (the stub runtime's bump allocator, asconfig
// "runtime": "stub"): n bytes take a 4-byte header and round up to 16; an object adds a 16-byte
// header. Each agent class states what its constructor allocates with these, beside it, so that
// agentInit can check the exact total against the memory cap before allocating anything (and
// verifies it after: a class that allocates more than it states is a bug caught at once).

@inline export function blockBytes(n: i64): i64 { return (n + 19) & ~15; }
@inline export function objectBytes(n: i64): i64 { return blockBytes(16 + n); }
