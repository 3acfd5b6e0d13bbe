import { formatMoney } from "@utils/money";
import { requirePositive } from "@utils/validate";
import { Order, OrderLine, OrderStatus } from "../models/order";
import { Product } from "../models/product";
import { PriceCalculator } from "./pricing";

export class Cart {
  private readonly lines = new Map<string, OrderLine>();

  constructor(private readonly prices: PriceCalculator) {}

  add(product: Product, quantity = 1): void {
    requirePositive("quantity", quantity);
    const existing = this.lines.get(product.sku);
    if (existing) {
      existing.quantity += quantity;
    } else {
      this.lines.set(product.sku, { product, quantity });
    }
  }

  remove(sku: string): boolean {
    return this.lines.delete(sku);
  }

  get size(): number {
    return this.lines.size;
  }

  total(): number {
    return this.prices.priceOf([...this.lines.values()]);
  }

  summary(): string {
    return `${this.size} item(s), ${formatMoney(this.total())}`;
  }

  checkout(id: string): Order {
    const lines = [...this.lines.values()];
    this.lines.clear();
    return { id, lines, status: OrderStatus.Open, total: this.prices.priceOf(lines) };
  }
}
