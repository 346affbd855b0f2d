using System.Globalization;
using Subscriptions.Api.Mail;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Mail;

/// <summary>What a mail carries so that its bounce finds its way back: the envelope sender, and its outbox row's id.</summary>
public sealed class BounceRoutingTests(ApiFixture fixture) : OwnDatabaseTest(fixture)
{
    [Fact]
    public async Task Mail_leaves_with_the_configured_verp_return_path_and_names_its_outbox_row()
    {
        await Fixture.Mail.ClearAsync();
        await using var app = StartApp(overrides: ("Smtp:ReturnPath", "bounces+{id}@example.org"));

        await SignUp(app, ["routed@example.org"]);

        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("routed@example.org"));
        var id = (await Scalar<long>("SELECT id FROM outbox")).ToString(CultureInfo.InvariantCulture);
        Assert.Equal(id, mail.Headers[BounceRouting.Header]);
        Assert.Equal(id, mail.Headers["X-PM-Metadata-subscriptions-outbox-id"]);
        Assert.Equal([$"bounces+{id}@example.org"], await Fixture.Mail.EnvelopeSendersAsync());
        Assert.Equal("newsletter@localhost", mail.From.Mailboxes.Single().Address); // the header From stays
    }

    [Theory]
    [InlineData("bounces@example.org", true)]
    [InlineData("bounces+{id}@example.org", true)]
    [InlineData("bounces@{id}.example.org", false)]
    [InlineData("Bounces <bounces@example.org>", false)]
    [InlineData("not an address", false)]
    [InlineData("a@b@example.org", false)]
    public void Return_paths_are_plain_addresses_with_the_id_in_the_local_part(string value, bool valid) =>
        Assert.Equal(valid, ReturnPath.Parse(value) is not null);
}
