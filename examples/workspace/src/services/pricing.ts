import { Cents, percentOf } from "@utils/money";
import { hasTag } from "../models/product";
import { OrderLine, lineTotal } from "../models/order";

export interface Discount {
  tag: string;
  percent: number;
}

export class PriceCalculator {
  private readonly discounts: Discount[] = [];

  addDiscount(tag: string, percent: number): this {
    this.discounts.push({ tag, percent });
    return this;
  }

  discountFor(line: OrderLine): Cents {
    const total = lineTotal(line);
    let best = 0;
    for (const discount of this.discounts) {
      if (hasTag(line.product, discount.tag)) {
        best = Math.max(best, percentOf(total, discount.percent));
      }
    }
    return best;
  }

  priceOf(lines: OrderLine[]): Cents {
    let sum = 0;
    for (const line of lines) {
      sum += lineTotal(line) - this.discountFor(line);
    }
    return sum;
  }
}
