using Microsoft.Extensions.Options;
using Npgsql;

namespace Subscriptions.Api.Data;

public sealed class DatabaseOptions
{
    public string? ConnectionString { get; set; }
}

public static class DatabaseExtensions
{
    public const string ConnectionStringName = "Subscriptions";

    public static WebApplicationBuilder AddDatabase(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>()
            .Configure<IConfiguration>((o, configuration) => o.ConnectionString = configuration.GetConnectionString(ConnectionStringName))
            .Validate(o => !string.IsNullOrWhiteSpace(o.ConnectionString),
                $"ConnectionStrings__{ConnectionStringName} is not set: give it an Npgsql connection string.")
            .Validate(o => string.IsNullOrWhiteSpace(o.ConnectionString) || IsWellFormed(o.ConnectionString),
                $"ConnectionStrings__{ConnectionStringName} is not a valid Npgsql connection string.")
            .ValidateOnStart();

        // The connection string is read when the data source is first used, after validation,
        // so a missing one surfaces as the message above rather than as an exception from Npgsql.
        builder.Services.AddNpgsqlDataSource(string.Empty, (services, dataSource) =>
            dataSource.ConnectionStringBuilder.ConnectionString =
                services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString);
        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddSingleton<ServiceKeys>();

        builder.Services.AddOptions<RetentionOptions>()
            .BindConfiguration(RetentionOptions.Section)
            .Validate(o => o.PendingDays > 0 && o.MailDays >= 2 && o.Interval > TimeSpan.Zero,
                "Retention__PendingDays must be at least 1, Retention__MailDays at least 2 (the resend throttle reads a day of mail), Retention__Interval positive.")
            .ValidateOnStart();
        builder.Services.AddSingleton<RetentionJob>();
        builder.Services.AddHostedService(services => services.GetRequiredService<RetentionJob>());
        return builder;
    }

    public static Task MigrateDatabaseAsync(this WebApplication app) =>
        app.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(app.Lifetime.ApplicationStopping);

    static bool IsWellFormed(string connectionString)
    {
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
