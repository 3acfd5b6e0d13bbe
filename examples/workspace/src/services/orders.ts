import { Order, OrderStatus } from "../models/order";
import { formatMoney } from "@utils/money";

export class OrderBook {
  private readonly orders: Order[] = [];

  record(order: Order): void {
    this.orders.push(order);
  }

  paid(): Order[] {
    return this.orders.filter((order) => order.status === OrderStatus.Paid);
  }

  describe(order: Order): string {
    return `${order.id} (${order.status}): ${formatMoney(order.total)}`;
  }
}
