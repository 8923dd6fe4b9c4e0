const workerpool = require('workerpool');

function burn(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x = (x + Math.sqrt(x + 1)) % 1e9;
  return x;
}

workerpool.worker({ addOne: (x) => x + 1, burn });
