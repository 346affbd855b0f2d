using System.Diagnostics;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Outbox;

/// <summary>
/// The span of one outbox delivery (when traced): a consumer span in the trace of the request or
/// job that wrote the row (its traceparent, migration 0018), parent of the SMTP send or the
/// webhook's HTTP request. Its attributes name the row, never the reader: no address, no link,
/// no server reply (which can quote the address).
/// </summary>
static class DeliverySpan
{
    public static Activity? Start(OutboxLane lane, IClaimedRow row, int attempt)
    {
        if (!Tracing.Source.HasListeners())
        {
            return null;
        }

        var span = Tracing.Source.StartActivity($"outbox deliver {row.Kind}", ActivityKind.Consumer, Tracing.Parse(row.Traceparent) ?? default);
        span?.SetTag("subscriptions.outbox.id", row.OutboxId)
            .SetTag("subscriptions.outbox.kind", row.Kind)
            .SetTag("subscriptions.outbox.lane", lane.ToString().ToLowerInvariant())
            .SetTag("subscriptions.outbox.attempt", attempt);
        return span;
    }

    public static void End(Activity? span, Delivery delivery)
    {
        if (span is null)
        {
            return;
        }

        span.SetTag("subscriptions.outbox.outcome", delivery.Result switch
        {
            DeliveryResult.Sent => "sent",
            DeliveryResult.Dead => "dead_lettered",
            _ when delivery.Error is null => "handed_back",
            _ => "retry",
        });
        if (delivery.Error is not null)
        {
            span.SetStatus(ActivityStatusCode.Error);
        }
    }
}
