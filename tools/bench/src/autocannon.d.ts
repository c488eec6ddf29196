/**
 * The part of autocannon 9's programmatic API the benchmarks use (the package ships no types).
 * See node_modules/autocannon/README.md, "API".
 */
declare module 'autocannon' {
  namespace autocannon {
    interface Histogram {
      readonly min: number;
      readonly max: number;
      readonly average: number;
      readonly mean: number;
      readonly stddev: number;
      readonly total: number;
      readonly p50: number;
      readonly p90: number;
      readonly p97_5: number;
      readonly p99: number;
      readonly p99_9: number;
    }

    interface Result {
      readonly latency: Histogram;
      readonly requests: Histogram;
      readonly duration: number;
      readonly errors: number;
      readonly timeouts: number;
      readonly non2xx: number;
      readonly statusCodeStats: Readonly<Record<string, { readonly count: number }>>;
      readonly '2xx': number;
    }

    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      /** Called before each request is built; answers the request to send. */
      setupRequest?: (request: Request, context: Record<string, unknown>) => Request;
    }

    /** One connection (the `Client` of README "Client API"); fields used by the paced mode. */
    interface Client {
      rate: number;
      reqsMadeThisSecond: number;
      paused: boolean;
      rateInterval: ReturnType<typeof setInterval> | undefined;
      destroyed: boolean;
      _doRequest(): void;
    }

    interface Options {
      url: string;
      connections?: number;
      duration?: number;
      amount?: number;
      timeout?: number;
      pipelining?: number;
      overallRate?: number;
      connectionRate?: number;
      ignoreCoordinatedOmission?: boolean;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      requests?: Request[];
      setupClient?: (client: Client) => void;
    }

    interface Instance extends PromiseLike<Result> {
      on(event: 'done', listener: (result: Result) => void): this;
      stop(): void;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export default autocannon;
}
