// Placeholder until the benchmark issue lands: `npm run bench` exists so scripts and docs are stable.
console.log(
  "No benchmarks yet: the load benchmarks arrive with the benchmark issue (see bench/README.md).",
);
