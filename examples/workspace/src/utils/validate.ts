export class ValidationError extends Error {
  constructor(public readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "ValidationError";
  }
}

export function requirePositive(field: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ValidationError(field, "must be a positive number");
  }
  return value;
}

export function requireNonEmpty(field: string, value: string): string {
  if (value.trim().length === 0) {
    throw new ValidationError(field, "must not be empty");
  }
  return value;
}
