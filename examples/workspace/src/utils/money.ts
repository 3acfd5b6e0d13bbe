/** Amounts are kept in integer cents to avoid floating-point rounding. */
export type Cents = number;

export function toCents(amount: number): Cents {
  return Math.round(amount * 100);
}

export function formatMoney(cents: Cents, currency = "EUR"): string {
  const value = (cents / 100).toFixed(2);
  return `${value} ${currency}`;
}

export function addMoney(a: Cents, b: Cents): Cents {
  return a + b;
}

export function percentOf(cents: Cents, percent: number): Cents {
  return Math.round((cents * percent) / 100);
}
