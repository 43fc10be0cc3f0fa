// The one error type of the verifier: a refusal with the reason code of docs/uc1.md §5 / §7.

export class UC1Error extends Error {
  constructor(reason, message = reason) {
    super(message);
    this.name = "UC1Error";
    this.reason = reason;
  }
}

/** Throw a UC1Error with `reason`. */
export function refuse(reason, message) {
  throw new UC1Error(reason, message);
}
