// The task module every Node contender runs (plain JavaScript, so no loader is involved).
export function addOne(x) {
  return x + 1;
}

/** About `ms` of arithmetic. */
export function burn(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x = (x + Math.sqrt(x + 1)) % 1e9;
  return x;
}

/** piscina / tinypool call the default export with one argument. */
export default function task(input) {
  return input.op === 'burn' ? burn(input.ms) : input.x + 1;
}
