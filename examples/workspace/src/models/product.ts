import { Cents, toCents } from "@utils/money";
import { requireNonEmpty, requirePositive } from "@utils/validate";

export interface Product {
  readonly sku: string;
  readonly name: string;
  readonly price: Cents;
  readonly tags: readonly string[];
}

export function createProduct(sku: string, name: string, price: number, tags: string[] = []): Product {
  requireNonEmpty("sku", sku);
  requireNonEmpty("name", name);
  requirePositive("price", price);
  return { sku, name, price: toCents(price), tags: [...tags] };
}

export function hasTag(product: Product, tag: string): boolean {
  return product.tags.includes(tag);
}
