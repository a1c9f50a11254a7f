/**
 * Options of the bench's small tools (bench/tools/*.ts), taken out of the argument list so that
 * what remains are the positional arguments. The CLIs proper (cli.ts) use cli-args.ts.
 */

/** `name N` out of `args`: N (NaN when it is not a number: the caller checks), or `fallback`. */
export function takeNumber(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
}

/** `name` out of `args`: whether it was there. */
export function takeFlag(args: string[], name: string): boolean {
  const at = args.indexOf(name);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
}
