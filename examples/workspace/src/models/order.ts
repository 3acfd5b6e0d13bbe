import { Cents } from "@utils/money";
import { Product } from "./product";

export interface OrderLine {
  product: Product;
  quantity: number;
}

export enum OrderStatus {
  Open = "open",
  Paid = "paid",
  Shipped = "shipped",
  Cancelled = "cancelled",
}

export interface Order {
  id: string;
  lines: OrderLine[];
  status: OrderStatus;
  total: Cents;
}

export function lineTotal(line: OrderLine): Cents {
  return line.product.price * line.quantity;
}
