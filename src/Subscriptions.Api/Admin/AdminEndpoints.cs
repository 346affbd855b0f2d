using Microsoft.AspNetCore.Authentication;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Suppressions;

namespace Subscriptions.Api.Admin;

public static class AdminEndpoints
{
    public static IServiceCollection AddAdmin(this IServiceCollection services)
    {
        services.AddOptions<AdminOptions>()
            .BindConfiguration(AdminOptions.Section)
            .Validate(o => o.AllKeys().All(k => k.Length >= AdminOptions.MinimumKeyLength),
                $"Admin__ApiKey and Admin__ApiKeys__* must be at least {AdminOptions.MinimumKeyLength} characters: use a long random key.")
            .Validate(o => o.FailedAttemptsPerMinute > 0, "Admin__FailedAttemptsPerMinute must be at least 1.")
            .ValidateOnStart();

        services.AddSingleton<AdminFailureLimiter>();
        services.AddSingleton<ListInputValidator>();
        services.AddSingleton<SuppressionInputValidator>();
        // The only scheme would otherwise become the default and run on every request, signups
        // included; the admin policy names it, so it runs for admin endpoints alone.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, AdminKeyHandler>(AdminKeyHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminKeyHandler.Policy, policy => policy
                .AddAuthenticationSchemes(AdminKeyHandler.SchemeName)
                .RequireAuthenticatedUser());
        return services;
    }

    /// <summary>
    /// Everything under /api/admin needs the admin key; the rule is set once, on the group, which is
    /// returned so that other features' admin endpoints (webhooks) join it from Program.cs.
    /// </summary>
    public static RouteGroupBuilder MapAdmin(this IEndpointRouteBuilder app) =>
        app.MapGroup("/api/admin")
            .RequireAuthorization(AdminKeyHandler.Policy)
            .WithTags("Admin")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesUnavailable()
            .MapListAdministration()
            .MapExport()
            .MapErasure()
            .MapPerson()
            .MapDeadLetters()
            .MapStats();
}
