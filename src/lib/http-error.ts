/** An HTTP answer decided deep in a handler: thrown with its status and code, written by the route's error handler. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
