/**
 * Where a function's AWS adapters come from: its deployed ones everywhere, except under `npm run dev`, which points
 * `CITADEL_ADAPTERS_MODULE` at the local simulators (a path unknown at bundle time, so they never ship). The module
 * must export `name`; one that does not is a wiring mistake, refused at the first call instead of answering
 * `undefined` until the process ends.
 */
export function adapterChooser<T>(name: string, deployed: T): () => Promise<T> {
  let chosen: Promise<T> | undefined;
  return () => {
    const module = process.env.CITADEL_ADAPTERS_MODULE;
    chosen ??= module
      ? import(module).then((m: Record<string, T | undefined>) => {
          const adapters = m[name];
          if (adapters === undefined) throw new Error(`${module} does not export ${name}`);
          return adapters;
        })
      : Promise.resolve(deployed);
    return chosen;
  };
}
