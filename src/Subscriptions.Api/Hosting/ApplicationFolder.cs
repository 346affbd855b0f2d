namespace Subscriptions.Api.Hosting;

public static class ApplicationFolder
{
    /// <summary>
    /// The content root is the application's folder, so `dotnet /app/Subscriptions.Api.dll` started
    /// from any directory finds its appsettings.json. ASPNETCORE_CONTENTROOT, DOTNET_CONTENTROOT or
    /// --contentRoot (which WebApplicationFactory passes) still decide when given.
    /// </summary>
    public static WebApplicationOptions Options(string[] args)
    {
        var given = Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT") is not null
            || Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT") is not null
            || args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase));
        return new WebApplicationOptions { Args = args, ContentRootPath = given ? null : AppContext.BaseDirectory };
    }
}
