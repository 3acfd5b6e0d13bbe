import { createProduct } from "./models/product";
import { Cart } from "./services/cart";
import { PriceCalculator } from "./services/pricing";

export function demo(): string {
  const prices = new PriceCalculator().addDiscount("sale", 20);
  const cart = new Cart(prices);
  cart.add(createProduct("tea-01", "Green tea", 4.5, ["sale"]), 2);
  cart.add(createProduct("mug-02", "Mug", 9.9));
  const order = cart.checkout("order-1");
  return `${order.id}: ${order.lines.length} line(s), total ${order.total}`;
}
