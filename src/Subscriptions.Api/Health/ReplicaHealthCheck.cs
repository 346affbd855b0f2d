using Microsoft.Extensions.Diagnostics.HealthChecks;
using Subscriptions.Api.Data;

namespace Subscriptions.Api.Health;

/// <summary>
/// The read-only database in the readiness probe, as Degraded at worst: a standby that is down
/// stops export and stats (they answer 503), not signups, links or mail, so it must not take the
/// instance out of its load balancer. /health/ready then answers 200 "Degraded".
/// </summary>
public sealed class ReplicaHealthCheck(ReadOnlyDatabase reads) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!reads.IsReplica)
        {
            return HealthCheckResult.Healthy("No read-only database configured: export and stats read from the primary.");
        }

        try
        {
            await using var connection = await reads.DataSource.OpenConnectionAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Npgsql.NpgsqlException ex)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The read-only database cannot be reached: export and stats answer 503.", ex);
        }
    }
}
